"""Cloud adapters: the ports of :mod:`panoptes_network.pipeline.ports` on Google Cloud clients.

Only services, the emulator tools and the infra tool import this subpackage. The clients
honour ``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST`` and ``FIRESTORE_EMULATOR_HOST``, so
the same code runs against the local emulators and a real project.
"""
