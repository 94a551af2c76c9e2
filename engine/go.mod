module github.com/strom-broker/strom/engine

go 1.26.8
