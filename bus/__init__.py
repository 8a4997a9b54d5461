"""RabbitMQ plumbing: topology, confirmed publishing, consumer runner, local spool."""
