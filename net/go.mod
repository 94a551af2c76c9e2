module github.com/strom-broker/strom/net

go 1.26.8
