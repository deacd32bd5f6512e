"""Who is calling, and whether AWS would let them: each caller's identity in the sandbox, the requests
its calls make, and IAM's evaluation of them against the stack's policies."""
