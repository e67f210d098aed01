"""The composition root's core: everything the surfaces share, built once in the lifespan.

``Runtime`` builds settings → store → services → meter, limits, webhooks, leaks and audit;
``deps`` hands each route the one part it uses, as a typed ``Annotated`` dependency.
"""

from keyplane.runtime.runtime import Runtime

__all__ = ["Runtime"]
