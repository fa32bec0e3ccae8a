"""The notebook widgets: ExecutionMonitor, WorkflowBuilder, and the DAG drawing they share."""
