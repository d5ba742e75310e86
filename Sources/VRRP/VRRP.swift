/// Placeholder until the VRRP module lands.
public enum VRRPModule {}
