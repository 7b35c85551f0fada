"""The discrete-event engine: clock, scheduler, queues and the S6a/UE procedures."""
