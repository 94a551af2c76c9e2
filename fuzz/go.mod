module github.com/strom-broker/strom/fuzz

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine

replace github.com/strom-broker/strom/net => ../net

replace github.com/strom-broker/strom/replication => ../replication

replace github.com/strom-broker/strom/coord => ../coord

replace github.com/strom-broker/strom/tools => ../tools

require (
	github.com/strom-broker/strom/coord v0.0.0
	github.com/strom-broker/strom/engine v0.0.0
	github.com/strom-broker/strom/net v0.0.0
	github.com/strom-broker/strom/tools v0.0.0
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
)

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	github.com/strom-broker/strom/replication v0.0.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
