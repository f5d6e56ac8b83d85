"""`make bench`: run every benchmark and print its figures."""

from benchmarks import flows, knowledge_search, routing

routing.main()
flows.main()
knowledge_search.main()
