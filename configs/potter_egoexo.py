# Short entry point: the official POTTER hand recipe on data/egoexo4d.
_base_ = ['./potter/potter_poolattnformer-s12_1xb64-70e_egoexo4d-224x224.py']
