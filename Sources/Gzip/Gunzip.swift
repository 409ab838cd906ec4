public enum GunzipPlaceholder {}
