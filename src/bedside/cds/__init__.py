"""CDS Hooks 2.0: bedside's evidence as decision-support cards inside an EHR (patient-view, order-select)."""
