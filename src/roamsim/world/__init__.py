"""The compiled world: operators, elements, IPX paths, agreements and steering policies."""
