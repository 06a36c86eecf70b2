"""Quality and speed measurements that are not tests (tests assert the quality parts)."""
