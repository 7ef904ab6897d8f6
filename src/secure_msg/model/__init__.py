"""Values and pure rules: no I/O, no storage; imports only crypto, errors and clock."""
