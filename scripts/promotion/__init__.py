"""Blue/green promotion: gates, the config edit, the CDK deploy, the watch, the live check, history."""
