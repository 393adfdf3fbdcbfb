"""Lambda entry points: thin (event -> adapters -> engine), and the only modules that use
aws-lambda-powertools. Each module's ``handler`` is what a function's ``Handler`` names."""
