module github.com/strom-broker/strom/benchmarks

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine

replace github.com/strom-broker/strom/net => ../net

replace github.com/strom-broker/strom/replication => ../replication

replace github.com/strom-broker/strom/coord => ../coord

replace github.com/strom-broker/strom/tools => ../tools

require (
	github.com/stretchr/testify v1.12.1
	github.com/strom-broker/strom/coord v0.0.0
	github.com/strom-broker/strom/engine v0.0.0
	github.com/strom-broker/strom/net v0.0.0
	github.com/strom-broker/strom/tools v0.0.0-00010101000000-000000000000
	github.com/twmb/franz-go v1.22.3
	github.com/twmb/franz-go/pkg/kadm v1.20.0
	github.com/twmb/franz-go/pkg/kfake v0.0.0-20260918054303-01f206a7e32c
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
	golang.org/x/sys v0.50.0
)

require (
	github.com/edsrzf/mmap-go v1.2.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
