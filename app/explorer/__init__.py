"""The Streamlit explorer: reads run directories written by the pipelines; trains nothing."""
