// Systemd module — sd_notify and socket activation.
