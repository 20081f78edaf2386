"""A faithful local stand-in for the subset of the Genesys Cloud Platform API flowtrack uses.

Public entry points: :func:`sandbox.app.create_sandbox_app`,
:class:`sandbox.config.SandboxConfig`, :func:`sandbox.server.running_sandbox`, and the
``flowtrack sandbox`` command (:mod:`sandbox.cli`). The flow-file format is described in
:mod:`sandbox.flows`, the faults in :mod:`sandbox.faults`, the test-only controls in
:mod:`sandbox.control_api`.
"""
