module github.com/strom-broker/strom/fuzz

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine
replace github.com/strom-broker/strom/net => ../net
replace github.com/strom-broker/strom/replication => ../replication
replace github.com/strom-broker/strom/coord => ../coord
replace github.com/strom-broker/strom/tools => ../tools
