module github.com/strom-broker/strom/coord

go 1.26.8

replace github.com/strom-broker/strom/engine => ../engine
