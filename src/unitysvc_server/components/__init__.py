"""Platform components: long-lived parts with a start/stop lifecycle the runtime drives."""
