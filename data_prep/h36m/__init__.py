"""The Human3.6M release (``S*/MyPoseFeatures``, ``S*/Videos``, ``metadata.xml``) -> c2f format."""
