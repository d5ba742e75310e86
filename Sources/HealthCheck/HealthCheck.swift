/// Placeholder until the HealthCheck module lands.
public enum HealthCheckModule {}
