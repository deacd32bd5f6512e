"""remediator: the operator's command line for a deployed IoT Audit Remediator stack."""
