"""A FHIR R4 terminology service over the graph (``/fhir``): see :mod:`.views`."""
