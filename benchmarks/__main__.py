"""`make bench`: run every benchmark and print its figures."""

from benchmarks import routing

routing.main()
