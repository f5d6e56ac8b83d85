"""`make bench`: run every benchmark and print its figures."""

from benchmarks import flows, routing

routing.main()
flows.main()
