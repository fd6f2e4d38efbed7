module github.com/batchrun/batchrun

go 1.26
