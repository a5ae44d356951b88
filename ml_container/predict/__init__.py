"""Inference side of the prediction function; needs only numpy, scipy and xgboost."""
