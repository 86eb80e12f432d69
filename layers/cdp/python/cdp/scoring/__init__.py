"""Scores per profile: RFM, future purchases and value, churn risk, web intent and preferred channel."""
