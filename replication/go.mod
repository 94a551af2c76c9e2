module github.com/strom-broker/strom/replication

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine

replace github.com/strom-broker/strom/net => ../net

require github.com/strom-broker/strom/engine v0.0.0

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
