module github.com/earlyhints/earlyhints

go 1.26.8
