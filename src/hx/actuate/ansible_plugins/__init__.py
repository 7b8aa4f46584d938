"""Ansible plugins hx ships: ``hx_json``, a callback that writes a run's outcome as JSON.

This folder is put on ``ANSIBLE_CALLBACK_PLUGINS`` by :class:`hx.actuate.ansible.AnsibleActuator`;
ansible-core loads the plugin file from here (it is not imported as part of hx).
"""
