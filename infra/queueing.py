"""The SQS step queue that carries steps between worker invocations, its DLQ, and the queue
of start and registration invocations that failed for good."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

STEP_MAX_RECEIVE_COUNT = 5
"""Deliveries of one step message before SQS moves it to the dead-letter queue."""

# A standard queue keeps a message's original enqueue time when it moves to the DLQ, so
# the DLQ must retain messages longer than the step queue or they expire on arrival.
_DEAD_LETTER_RETENTION = Duration.days(14)


class Queueing(Construct):
    """A step queue with a dead-letter queue, both SQS-encrypted and TLS-only.

    ``visibility_timeout_seconds`` should be about six times the worker's timeout, the
    margin AWS recommends for a Lambda event source so batches are not redelivered while
    the function still retries them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, visibility_timeout_seconds: int) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "StepDeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=_DEAD_LETTER_RETENTION,
        )
        # Start requests and upload events the starter or registrar failed on after
        # EventBridge's and Lambda's retries: kept for an operator instead of lost.
        self.failed_invocations_queue = sqs.Queue(
            self,
            "FailedInvocationsQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=_DEAD_LETTER_RETENTION,
        )
        self.step_queue = sqs.Queue(
            self,
            "StepQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=STEP_MAX_RECEIVE_COUNT, queue=self.dead_letter_queue
            ),
        )
