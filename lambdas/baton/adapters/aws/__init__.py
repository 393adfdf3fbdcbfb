"""The AWS backend: DynamoDB state, S3 artifacts and cache, SQS and EventBridge.

Every module here may import boto3; nothing in ``baton.engine``, ``baton.spec`` or
``baton.steps`` imports this package.
"""
