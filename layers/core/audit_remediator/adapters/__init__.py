"""The only modules that call AWS. Each raises AwsCallError from the SDK error it met."""
