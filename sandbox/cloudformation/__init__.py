"""CloudFormation's template semantics, offline: the Serverless transform, parameters, intrinsic functions,
conditions and creation order. Nothing here creates a resource; `sandbox.deployer` does, and the template
policy tests evaluate the same template with symbolic names."""
