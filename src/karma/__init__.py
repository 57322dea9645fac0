"""KARMA: Karma-Aligned Reward Model Adaptation."""
