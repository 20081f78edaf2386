"""Data action runs (#13): executing Genesys data actions from outside a flow, validated
against their contract, paced under the org's limits, retried only when safe, cached on
request, and kept as run records (docs/actions.md)."""
