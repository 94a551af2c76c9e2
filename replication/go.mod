module github.com/strom-broker/strom/replication

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine

replace github.com/strom-broker/strom/net => ../net

replace github.com/strom-broker/strom/coord => ../coord

require (
	github.com/stretchr/testify v1.12.1
	github.com/strom-broker/strom/coord v0.0.0
	github.com/strom-broker/strom/engine v0.0.0
	github.com/strom-broker/strom/net v0.0.0
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
)

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	github.com/twmb/franz-go v1.22.3 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
