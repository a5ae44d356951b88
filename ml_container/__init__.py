"""ICU-admission prediction function: training code, Lambda handler and artifacts."""
