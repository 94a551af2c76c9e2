module github.com/strom-broker/strom/replication

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine
replace github.com/strom-broker/strom/net => ../net
