"""CDK stacks and constructs. Import only from app.py and tests: loading aws_cdk takes seconds."""
