"""Pure hotline rules: no I/O, no clock of their own, plain data in and out."""
