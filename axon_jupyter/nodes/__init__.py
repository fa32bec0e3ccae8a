"""Node catalog: built-in node types, custom node loading, versions."""
