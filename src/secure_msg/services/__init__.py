"""Transaction scripts: each composes storage functions in one transaction (Txn)
around the rules of model/."""
