"""The pipeline: its steps are declared once (``steps.STEPS``) and run by the local runner and Step Functions."""
