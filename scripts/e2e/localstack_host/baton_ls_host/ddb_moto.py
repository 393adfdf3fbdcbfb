"""DynamoDB for LocalStack from moto's in-memory backend (no Java, no DynamoDB Local download)."""

from localstack.services.plugins import Service, aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    """The provider selected by ``PROVIDER_OVERRIDE_DYNAMODB=moto``."""
    from localstack.aws.api.dynamodb import DynamodbApi
    from localstack.services.moto import MotoFallbackDispatcher

    class MotoDynamoDBProvider(DynamodbApi):
        pass

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)
