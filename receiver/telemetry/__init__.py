"""What flowtrack tells its operators: Prometheus metrics (``metrics``), the callback
endpoint's counts and refusal logs (``callbacks``), throttled log lines (``throttle``),
and readiness changes (``readiness``)."""
